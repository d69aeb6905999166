"""One module per submodel of docs/ODD.md section 7, each called from ``DigexModel.step``."""
