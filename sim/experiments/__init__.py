"""The experiments layer: replications and executors (in-process, processes, Dask), statistics,
scenario comparison, sweeps and calibration. Writes no figures or reports."""
