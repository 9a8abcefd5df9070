"""The preview server: serves the output, rebuilds on change, reloads the browser."""
