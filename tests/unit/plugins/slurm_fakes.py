"""A stand-in for AnsibleModule.run_command that answers with outputs captured from Slurm 22.05,
so the parsers and modules are tested against what Slurm really prints."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "slurm")


def sample(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class FakeRunner:
    """Answers per command name from queued responses (or a callable); records every call."""

    def __init__(self, **responses):
        self.responses = {name: list(value) if isinstance(value, list) else value
                          for name, value in responses.items()}
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append((list(args), kwargs))
        name = os.path.basename(args[0])
        answer = self.responses.get(name)
        if answer is None:
            raise AssertionError("unexpected command %r" % (args,))
        if callable(answer):
            return answer(args, kwargs)
        if isinstance(answer, list):
            if len(answer) > 1:
                return answer.pop(0)
            return answer[0]
        return answer

    def commands(self, name):
        return [args for args, _kwargs in self.calls if os.path.basename(args[0]) == name]
