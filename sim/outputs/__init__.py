"""The outputs layer: result files, figures and the HTML report."""
