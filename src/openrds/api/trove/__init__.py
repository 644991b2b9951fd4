"""The OpenStack Trove v1.0 face (what ``python-troveclient`` and ``openstack database`` speak), behind
the minimal Keystone v3 of the Huawei face (`openrds.api.huawei.auth`), whose token catalogue lists
this face as the ``database`` service at ``/v1.0/{project_id}``."""
