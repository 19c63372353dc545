"""mg: a scalar autograd engine with a command line for learning backpropagation."""

__version__ = "0.1.0"
