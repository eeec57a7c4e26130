"""mmgpt.demo.runs: a child training run shown as a bar, its output kept in a log file."""
import sys

import pytest

from mmgpt.demo.runs import TrainingFailed, run_with_progress

FAKE_TRAINING = """
import sys
print('System environment: lots of lines')
for k in (1, 2, 3):
    print(f'11/29 06:00:0{k} - mmengine - INFO - Iter(train) [  {k}/3]  lr: 1e-3  '
          f'loss: {1.0 / k:.4f}  loss_vl: 0.1', flush=True)
sys.exit(int(sys.argv[1]))
"""


def test_output_goes_to_the_log_and_a_bar_to_the_console(tmp_path, capsys):
    log = tmp_path / 'stage' / 'train.log'
    seconds = run_with_progress([sys.executable, '-c', FAKE_TRAINING, '0'], str(log), 'fake')
    assert seconds > 0
    text = log.read_text()
    assert 'System environment' in text and text.count('Iter(train)') == 3
    shown = capsys.readouterr().out
    assert 'System environment' not in shown and 'Iter(train)' not in shown
    assert 'fake' in shown and '3/3' in shown and 'loss 0.3333' in shown


def test_verbose_passes_the_output_through(tmp_path, capsys):
    run_with_progress([sys.executable, '-c', FAKE_TRAINING, '0'], str(tmp_path / 'a.log'),
                      'fake', verbose=True)
    shown = capsys.readouterr().out
    assert 'System environment' in shown and shown.count('Iter(train)') == 3


def test_a_failed_run_names_its_status_log_and_last_lines(tmp_path):
    log = tmp_path / 'train.log'
    with pytest.raises(TrainingFailed) as err:
        run_with_progress([sys.executable, '-c', FAKE_TRAINING, '3'], str(log), 'fake')
    message = str(err.value)
    assert 'exit status 3' in message and str(log) in message
    assert message.rstrip().endswith('loss_vl: 0.1')  # the child's last line
