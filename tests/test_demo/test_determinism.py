"""The demo is deterministic: the same command twice gives the same weights and eval.json."""
OUTPUTS = ('data/eval_items.json', 'stage0/clip_tiny.safetensors',
           'stage1/openflamingo_tiny.safetensors', 'stage2/mmgpt_lora.safetensors',
           'eval.json')


# two smoke demos (one shared with other tests): about 2-3 min on 2 cores; runs in CI
def test_two_runs_give_identical_weights_and_eval_json(smoke_demo, smoke_demo_runner,
                                                     tmp_path):
    smoke_demo_runner(tmp_path)  # the same command as the fixture's: --smoke --threads 1
    for name in OUTPUTS:
        first, second = (smoke_demo / name).read_bytes(), (tmp_path / name).read_bytes()
        assert first == second, f'{name} differs between two runs of the same command'
