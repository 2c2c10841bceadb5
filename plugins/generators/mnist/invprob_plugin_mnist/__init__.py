"""invprob-plugin-mnist: the MNIST MLP GAN as a splittable invprob generator."""
