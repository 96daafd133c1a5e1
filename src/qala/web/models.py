"""The shell keeps no tables of its own: it shows what the kernel and modules hold."""
