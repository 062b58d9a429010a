"""Strong-model training, two exact ways (direct in R^d, Gram in kernel space, with the Wishart
draw beside it), their cost model, and the pure `run` that chooses between them."""
