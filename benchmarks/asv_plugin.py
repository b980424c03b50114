"""An asv plugin (asv.conf.json "plugins"): the environment the sweep runs in, named alike in
every checkout.

`--python=same` names asv's environment after the interpreter's path
(existing-py_home_me_adcost_.venv_bin_python), so two checkouts of the project file their
results under two names and `asv compare` pairs none of their rows.  `-E adcost:same` is the same
environment (the running interpreter, nothing built) named `adcost-py3.11` wherever the venv is.
"""
import sys

from asv import util
from asv.environment import ExistingEnvironment, get_env_name


class CheckoutIndependent(ExistingEnvironment):
    tool_name = "adcost"

    def __init__(self, conf, executable, requirements, tagged_env_vars):
        path = sys.executable if executable == "same" else util.which(executable)
        self._version = util.check_output(   # asv's own base class reads `name` while it starts
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
        super().__init__(conf, executable, requirements, tagged_env_vars)

    @property
    def name(self):
        return get_env_name(self.tool_name, self._version, {}, self._tagged_env_vars)
