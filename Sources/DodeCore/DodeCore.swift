@_exported import DodeTensor
