"""Function entry points, one blueprint per trigger kind; each hands off to `shared` at once."""
