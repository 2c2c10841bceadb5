pytest_plugins = ["invprob.testing"]
