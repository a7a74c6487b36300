"""Right and typical wrong solutions of the coding exercises (ipclab.coding), one module per
notebook. The only place right solutions live: the package holds none."""
