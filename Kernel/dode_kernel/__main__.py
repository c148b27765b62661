"""python -m dode_kernel -f CONNECTION_FILE: start the dode kernel (what the kernelspec runs)."""

from ipykernel.kernelapp import IPKernelApp

from .kernel import DodeKernel

if __name__ == "__main__":
    IPKernelApp.launch_instance(kernel_class=DodeKernel)
