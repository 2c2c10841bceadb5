# %% [markdown]
# # 01_first_inverse_problem
#
# (placeholder: the notebooks engineer replaces this notebook)

# %%
print("placeholder")
