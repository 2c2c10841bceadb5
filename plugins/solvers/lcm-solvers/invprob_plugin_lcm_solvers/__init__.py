"""LCM restoration (Athar, Burnaev, Lempitsky, ICLR 2019) and the Deep Image Prior baseline (Ulyanov et al., CVPR 2018)."""
