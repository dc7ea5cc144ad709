"""Meta values and the rendering of texts that name them."""
