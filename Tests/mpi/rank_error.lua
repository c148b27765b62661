-- Run by Scripts/test under `mpirun -n 4`: rank 2 raises an error while the other ranks wait in
-- collectives. Every rank must end (non-zero) within seconds, with rank 2's message — no hang.
local w = dode.mpi
assert(w.size >= 3, 'run with at least 3 ranks')
w.barrier()
if w.rank == 2 then
  local vp = dode.schedule.vp()
  local den = dode.denoiser.fn(function(x, p) error('boom on rank 2 inside a denoiser') end, { schedule = vp })
  den(dode.ones(1, 2), vp:point{ t = 10 })
end
for _ = 1, 1e9 do w.allreduce(1) end
