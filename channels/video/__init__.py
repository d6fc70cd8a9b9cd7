"""Video calls: the simulated customer's rendered camera, the analysis of the trainee's camera, and the
identity check by video (do_record_id_verification). Calls ride on the voice channel's call pipeline."""
