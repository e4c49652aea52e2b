"""Services: observe -> plan -> apply, the sweep, and the results they report."""
