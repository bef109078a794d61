"""Dashboard and symbol-screen regions, one module per region."""
