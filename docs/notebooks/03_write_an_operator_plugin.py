# %% [markdown]
# # 03_write_an_operator_plugin
#
# (placeholder: the notebooks engineer replaces this notebook)

# %%
print("placeholder")
