"""JAX/Flax autoencoders and variational autoencoders for research."""
