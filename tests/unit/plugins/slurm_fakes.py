"""A stand-in for AnsibleModule.run_command that answers with outputs captured from Slurm 22.05,
so the parsers and modules are tested against what Slurm really prints."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "slurm")
NO_ACCOUNTING = os.path.join(os.path.dirname(FIXTURES), "slurm_no_accounting")


def sample(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def no_accounting(name):
    """A file captured from Slurm 22.05 without slurmdbd (fixtures/slurm_no_accounting/README.md)."""
    with open(os.path.join(NO_ACCOUNTING, name)) as handle:
        return handle.read()


def answer(name):
    """(rc, stdout, stderr) of a command captured as NAME.rc, NAME.stdout and NAME.stderr."""
    return int(no_accounting(name + ".rc")), no_accounting(name + ".stdout"), no_accounting(name + ".stderr")


# `scontrol show config` of the captured cluster without accounting, and the same cluster with
# slurmdbd (what the other fixtures come from): only AccountingStorageType differs for the modules.
CONFIG_WITHOUT_ACCOUNTING = no_accounting("scontrol_show_config.txt")
CONFIG_WITH_ACCOUNTING = CONFIG_WITHOUT_ACCOUNTING.replace("accounting_storage/none", "accounting_storage/slurmdbd")


class FakeRunner:
    """Answers per command name from queued responses (or a callable); records every call."""

    def __init__(self, config=CONFIG_WITH_ACCOUNTING, **responses):
        self.responses = {name: list(value) if isinstance(value, list) else value
                          for name, value in responses.items()}
        # `scontrol show config` (the accounting question) is answered apart from other scontrol calls.
        self.config = config
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append((list(args), kwargs))
        name = os.path.basename(args[0])
        if name == "scontrol" and list(args[1:3]) == ["show", "config"]:
            return 0, self.config, ""
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
