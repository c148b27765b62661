"""A Jupyter kernel for dode: Lua 5.4 with the dode module, one dode process per notebook.

The kernel is a wrapper kernel (ipykernel.kernelbase.Kernel) around `dode --kernel-server`;
see kernel.py for the protocol and Sources/dode/KernelServer.swift for the dode side.
"""

__version__ = "0.1.0"
