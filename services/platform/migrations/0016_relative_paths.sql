-- Issue 22: job rows keep their paths relative to the data dir (jobs/<id>/...), so a backup restored
-- into another folder finds its files and never reads the old folder. fd_rel (services.db) re-anchors
-- absolute paths and old `data/jobs/<id>/...` ones at their jobs/<id>/ part.
UPDATE jobs SET input_path = fd_rel(input_path, id), output_path = fd_rel(output_path, id),
                data_json = fd_rel(data_json, id);
