"""Demo data lives in the kernel's and modules' own tables; this module adds none."""
