"""A direct client verifies the server with the same code: `sitealert sync --mirror
https://host/api/v1/mirror/ --root … --token T` against the running Django app, which serves the tree
the worker publishes into SITEALERT_MIRROR_DIR."""

import pytest

from sitealert.client import AuthError, Replica
from sitealert.distribution.publish import publish
from sitealert.feed import builder

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_direct_client_syncs_from_the_servers_own_mirror_with_a_feed_token(
        live_server, settings, italy, list_targets, adco_token, tree, root_file, replica_dir):
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DIR": tree}
    list_targets(italy, ["films.example", "music.test"])
    publish(str(tree))
    url = f"{live_server.url}/api/v1/mirror/"
    with pytest.raises(AuthError, match="needs an authorized user's feed token"):
        Replica(replica_dir).sync(mirror=url, root=root_file)  # the metadata is public, state.json is not
    assert Replica(replica_dir).version == 0
    replica = Replica(replica_dir)
    first = replica.sync(mirror=url, root=root_file, token=adco_token)
    assert first.mode == "full" and replica.checksum == builder.cached_feed("txt")[1]
    list_targets(italy, ["series.example"])
    publish(str(tree))
    second = replica.sync(mirror=url, token=adco_token)
    assert (second.mode, second.added) == ("incremental", ("series.example",))
    assert replica.checksum == builder.cached_feed("txt")[1]
