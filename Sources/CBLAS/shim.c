// Intentionally empty: the target exists to export the CBLAS header and link OpenBLAS.
