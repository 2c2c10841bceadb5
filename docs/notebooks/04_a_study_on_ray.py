# %% [markdown]
# # 04_a_study_on_ray
#
# (placeholder: the notebooks engineer replaces this notebook)

# %%
print("placeholder")
