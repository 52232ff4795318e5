"""What only the notebooks need: lessons, their plots, widgets, exercises, the handout and batch runs."""
