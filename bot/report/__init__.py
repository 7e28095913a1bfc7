"""What people read after a run: performance figures (metrics), the run folder
(runfolder), charts (chart, panels), terminal tables (views) and `bot status` (status)."""
