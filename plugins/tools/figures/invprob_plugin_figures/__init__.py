"""``invprob-plugin-figures``: the figures of a finished run, for people to look at.

``grid.png`` (labelled columns, each row with the image's name and PSNR), ``loss.png`` (when a
loss was recorded) and ``optimisation.gif`` (when the recipe's ``outputs.gif`` asks for it),
drawn through the application's ``invprob_write_run_figures`` hook (:mod:`.plugin`) with
:mod:`.pictures`. The numbers of a run, its images and its record never need this
distribution; without it a run says that ``outputs.gif`` draws nothing and which distribution
to install.
"""
