"""One exception type for bad input, so every entry point can print one clear line and exit."""


class InputError(Exception):
    """A user-supplied input (file, folder, camera, model) cannot be used.

    The message names the input and the problem in one line, e.g.
    ``clip.mp4: not a video file (no decodable frames)``.
    """

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")
