"""Training: the loop, one epoch, its data, evaluation on workers, data-parallel workers, SDLM, losses."""
