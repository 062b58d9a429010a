"""Reading a finished sweep: classes and early-stopping windows, boundary fits, plots, report."""
