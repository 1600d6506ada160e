"""The algebra below the calculus and the simplifier: smart constructors, the index form, the function table."""
