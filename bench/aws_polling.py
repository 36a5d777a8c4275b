"""How often the aws provider asks ParallelCluster's API while it waits on a cluster create.

A stand-in for pcluster's API answers CREATE_IN_PROGRESS until a simulated clock reaches the end
of the create, then CREATE_COMPLETE; the provider's own backend (the code pcluster_cluster runs)
waits on it with that clock, so the figure takes no real time. The peer is
`pcluster create-cluster --wait`, whose waiter asks every 30 s.
"""

import collection_code

PEER_INTERVAL_S = 30


class SimulatedClock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class NotFoundException(Exception):
    """pcluster's answer for a cluster that does not exist (its errors carry their payload as ``data``)."""

    def __init__(self, name):
        super().__init__(name)
        self.data = {"message": "Cluster '%s' does not exist or belongs to an incompatible ParallelCluster "
                                "major version." % name}


class CreatingApi:
    """pcluster's API for one cluster whose create takes ``duration`` simulated seconds."""

    def __init__(self, clock, duration):
        self.clock = clock
        self.duration = duration
        self.created_at = None
        self.polls = []

    def create_cluster(self, **_kwargs):
        self.created_at = self.clock.time()
        return {"cluster": {"clusterName": "bench", "clusterStatus": "CREATE_IN_PROGRESS"}}

    def describe_cluster(self, cluster_name, **_kwargs):
        if self.created_at is None:
            raise NotFoundException(cluster_name)
        self.polls.append(self.clock.time())
        done = self.clock.time() - self.created_at >= self.duration
        return {"clusterName": cluster_name, "clusterStatus": "CREATE_COMPLETE" if done else "CREATE_IN_PROGRESS",
                "computeFleetStatus": "RUNNING" if done else "UNKNOWN", "clusterConfiguration": {}}


def provider_polls(duration):
    """(polls while waiting, longest gap between two polls in seconds) of the aws provider's create."""
    clock = SimulatedClock()
    api = CreatingApi(clock, duration)
    backend_class = collection_code.module_utils("aws_cluster").AwsClusterBackend
    backend = backend_class(api, wait=True, wait_timeout=duration * 2, sleep=clock.sleep, clock=clock.time)
    backend.create("bench", {})
    waiting = [t for t in api.polls if t >= api.created_at]
    # The last describe reads the finished cluster back for the result: it is not a poll.
    waiting = waiting[:-1] if len(waiting) > 1 and waiting[-1] == waiting[-2] else waiting
    gaps = [later - earlier for earlier, later in zip(waiting, waiting[1:])]
    return len(waiting), max(gaps) if gaps else 0.0


def peer_polls(duration, interval=PEER_INTERVAL_S):
    """Polls of a fixed-interval waiter (pcluster create-cluster --wait) over the same create."""
    polls, waited = 1, 0
    while waited < duration:
        waited += interval
        polls += 1
    return polls


def measure(duration=900):
    polls, longest = provider_polls(duration)
    return {"aws_create_s": duration, "aws_create_polls": polls, "aws_create_longest_gap_s": round(longest, 1),
            "aws_create_peer_polls": peer_polls(duration)}


if __name__ == "__main__":
    for key, value in measure().items():
        print(key, value)
