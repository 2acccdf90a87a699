"""The class's JupyterHub (`make hub`), all in this folder:
jupyterhub_config.py, the hub's settings; preparation.py, what the hub does
on this machine as root (the class's folder, accounts, homes); exchange.py,
nbgrader's exchange for the class; lti_signin.py, signing in from the
school's platform (LTI 1.3); nbgrader_config.py, the nbgrader settings
of every user's server; requirements.txt and proxy/, the hub's environment;
Dockerfile and z2jh-values.yaml, the same class on Zero to JupyterHub."""
