"""The language: text (plain or LaTeX) to typed trees, declarations, identity files and --at values."""
