"""Response shapes of the Tencent Cloud PostgreSQL API (2017-03-12), as TypedDicts for presenters.

One TypedDict per structure the actions of :mod:`.schemas` return (``DBInstance``,
``DBInstanceNetInfo``, ``ReadOnlyGroup``, ``TaskSet``, ``ZoneInfo``, ``RegionInfo``, ``ClassInfo``,
``Version``, ``SpecInfo``/``SpecItemInfo``, ...) and one ``<Action>Response`` per action: the
``Response`` object without ``RequestId``, which the router adds. A handler can be typed
``-> DescribeDBInstancesResponse`` and a type checker will then catch missing or misspelt fields.

Source: the API table tccli ships (``tccli/services/postgres/v20170312/api.json``, the same data as
the SDK's ``models.py`` docstrings), transcribed mechanically:

* ``string`` -> ``str``, ``int64``/``uint64`` -> ``int``, ``float`` -> ``float``, ``bool`` -> ``bool``,
  ``datetime`` -> ``str`` (``YYYY-MM-DD hh:mm:ss``, server local time in Tencent's examples);
* fields the table marks ``output_required: false`` are ``NotRequired``; fields it marks
  ``value_allowed_null`` are ``| None`` (answer ``null``, never omit them);
* the comment above each field is the table's own description (Chinese), trimmed; it lists the
  enumerations (statuses, pay types, ...). ``reference/tencent-api-notes.md`` has them in English.

``tests/api_tencent_protocol/test_schemas.py`` checks every TypedDict here against the table.
"""

# No ``from __future__ import annotations`` here: with postponed annotations Python 3.11 cannot see
# ``NotRequired`` at run time and ``__required_keys__`` would be wrong. Classes are defined before use.
from typing import NotRequired, TypedDict


class RegionInfo(TypedDict):
    """``RegionInfo``: 描述地域的编码和状态等信息"""

    # 该地域对应的英文名称
    Region: str
    # 该地域对应的中文名称
    RegionName: str
    # 该地域对应的数字编号
    RegionId: int
    # 可用状态，UNAVAILABLE表示不可用，AVAILABLE表示可用
    RegionState: str
    # 该地域是否支持国际站售卖，0：不支持，1：支持
    SupportInternational: int


class ZoneInfo(TypedDict):
    """``ZoneInfo``: 描述可用区的编码和状态信息"""

    # 该可用区的英文名称
    Zone: str
    # 该可用区的中文名称
    ZoneName: str
    # 该可用区对应的数字编号
    ZoneId: int
    # 可用状态包含， UNAVAILABLE：不可用。 AVAILABLE：可用。 SELLOUT：售罄。 SUPPORTMODIFYONLY：支持变配。
    ZoneState: str
    # 该可用区是否支持Ipv6
    ZoneSupportIpv6: int
    # 该可用区对应的备可用区集合
    StandbyZoneSet: list[str] | None


class ClassInfo(TypedDict):
    """``ClassInfo``: 数据库实例规格"""

    # 规格ID
    SpecCode: str
    # CPU核数
    CPU: int
    # 内存大小，单位：MB
    Memory: int
    # 该规格所支持最大存储容量，单位：GB
    MaxStorage: int
    # 该规格所支持最小存储容量，单位：GB
    MinStorage: int
    # 该规格的预估QPS
    QPS: int


class Version(TypedDict):
    """``Version``: 数据库版本号信息"""

    # 数据库引擎，支持： 1、postgresql（云数据库PostgreSQL）； 2、mssql_compatible（MSSQL兼容-云数据库PostgreSQL）；
    DBEngine: str
    # 数据库版本，例如：12.4
    DBVersion: str
    # 数据库主要版本，例如：12
    DBMajorVersion: str
    # 数据库内核版本，例如：v12.4_r1.3
    DBKernelVersion: str
    # 数据库内核支持的特性列表。例如， TDE：支持数据加密。
    SupportedFeatureNames: list[str]
    # 数据库版本状态，包括： AVAILABLE：可用； UPGRADE_ONLY：不可创建，此版本仅可升级至高版本； DEPRECATED：已弃用。
    Status: str
    # 该数据库版本（DBKernelVersion）可以升级到的版本号列表。其中包含可升级的小版本号和可升级的大版本号（完整内核版
    # 本格式示例：v15.1_v1.6）。
    AvailableUpgradeTarget: list[str]


class SpecItemInfo(TypedDict):
    """``SpecItemInfo``: 描述一种规格的信息"""

    # 规格ID
    SpecCode: str
    # PostgreSQL的版本编号
    Version: str
    # 内核编号对应的完整版本名称
    VersionName: str
    # CPU核数
    Cpu: int
    # 内存大小，单位：MB
    Memory: int
    # 该规格所支持最大存储容量，单位：GB
    MaxStorage: int
    # 该规格所支持最小存储容量，单位：GB
    MinStorage: int
    # 该规格的预估QPS
    Qps: int
    # 【该字段废弃】
    Pid: int
    # 机器类型
    Type: str
    # PostgreSQL的主要版本编号
    MajorVersion: str
    # PostgreSQL的内核版本编号
    KernelVersion: str
    # 是否支持TDE数据加密功能，0-不支持，1-支持
    IsSupportTDE: int


class SpecInfo(TypedDict):
    """``SpecInfo``: 描述某个地域下某个可用区的可售卖规格详细信息。"""

    # 地域英文编码，对应RegionSet的Region字段
    Region: str
    # 区域英文编码，对应ZoneSet的Zone字段
    Zone: str
    # 规格详细信息列表
    SpecItemInfoList: list[SpecItemInfo]
    # 支持KMS的地域
    SupportKMSRegions: list[str]


class DBInstanceNetInfo(TypedDict):
    """``DBInstanceNetInfo``: 描述实例的网络连接信息。"""

    # DNS域名
    Address: str
    # IP地址
    Ip: str
    # 连接Port地址
    Port: int
    # 网络类型，1、inner（基础网络内网地址）；2、private（私有网络内网地址）；3、public（基础网络或私有网络的外网地
    # 址）；
    NetType: str
    # 网络连接状态，1、initing（未开通）；2、opened（已开通）；3、closed（已关闭）；4、opening（开通中）；5、closing
    # （关闭中）；
    Status: str
    # 私有网络ID
    VpcId: str
    # 子网ID
    SubnetId: str
    # 连接数据库的协议类型，当前支持：postgresql、mssql（MSSQL兼容语法）
    ProtocolType: str


class Tag(TypedDict):
    """``Tag``: 实例绑定的标签信息，包含标签键TagKey和标签值TagValue"""

    # 标签键
    TagKey: str
    # 标签值
    TagValue: str


class DBNode(TypedDict):
    """``DBNode``: 描述实例节点信息，包括节点类型、节点所在可用区、节点所在专属集群。"""

    # 节点类型，值可以为： Primary，代表主节点； Standby，代表备节点。
    Role: str
    # 节点所在可用区，例如 ap-guangzhou-1。
    Zone: str
    # 专属集群ID
    DedicatedClusterId: NotRequired[str]


class NetworkAccess(TypedDict):
    """``NetworkAccess``: 网络相关信息。（该数据结构已废弃，网络相关信息使用DBInstanceNetInfo）"""

    # 网络资源id，实例id或RO组id
    ResourceId: str
    # 资源类型，1-实例 2-RO组
    ResourceType: int
    # 私有网络ID
    VpcId: str
    # IPV4地址
    Vip: str
    # IPV6地址
    Vip6: str
    # 访问端口
    Vport: int
    # 子网ID
    SubnetId: str
    # 网络状态，1-申请中，2-使用中，3-删除中，4-已删除
    VpcStatus: int


class DBInstance(TypedDict):
    """``DBInstance``: 描述实例的详细信息"""

    # 实例所属地域，如: ap-guangzhou，对应RegionSet的Region字段。
    Region: str
    # 实例所属可用区， 如：ap-guangzhou-3，对应ZoneSet的Zone字段。
    Zone: str
    # 私有网络ID，形如vpc-e6w23k31。有效的VpcId可通过登录控制台查询；也可以调用接口 DescribeVpcs
    # ，从接口返回中的unVpcId字段获取。
    VpcId: str
    # 私有网络子网ID，形如subnet-51lcif9y。有效的私有网络子网ID可通过登录控制台查询；也可以调用接口 DescribeSubnets
    # ，从接口返回中的unSubnetId字段获取。
    SubnetId: str
    # 实例ID。
    DBInstanceId: str
    # 实例名称。
    DBInstanceName: str
    # 实例状态，分别为：applying（申请中）、init(待初始化)、initing(初始化中)、running(运行中)、limited
    # run（受限运行）、isolating（隔离中）、isolated（已隔离）、disisolating（解隔离中）、recycling（回收中）、recyc
    # led（已回收）、job running（任务执行中）、offline（下线）、migrating（迁移中）、expanding（扩容中）、waitSwitc ...
    DBInstanceStatus: str
    # 实例分配的内存大小，单位：GB
    DBInstanceMemory: int
    # 实例分配的存储空间大小，单位：GB
    DBInstanceStorage: int
    # 实例分配的CPU数量，单位：个
    DBInstanceCpu: int
    # 售卖规格ID
    DBInstanceClass: str
    # PostgreSQL大版本号，版本信息可从 DescribeDBVersions 获取，目前支持10，11，12，13，14，15这几个大版本。
    DBMajorVersion: str
    # PostgreSQL社区大版本+小版本号，如12.4，版本信息可从 DescribeDBVersions 获取。
    DBVersion: str
    # PostgreSQL内核版本号，如v12.7_r1.8，版本信息可从 DescribeDBVersions 获取。
    DBKernelVersion: str
    # 实例类型，类型有： primary：主实例 readonly：只读实例 guard：灾备实例 temp：临时实例
    DBInstanceType: str
    # 实例版本，目前只支持standard（双机高可用版, 一主一从）。
    DBInstanceVersion: str
    # 实例字符集，目前只支持： UTF8 LATIN1
    DBCharset: str
    # 实例创建时间。
    CreateTime: str
    # 实例执行最后一次更新的时间。
    UpdateTime: str
    # 实例到期时间。
    ExpireTime: str
    # 实例隔离时间。
    IsolatedTime: str
    # 计费模式： prepaid：包年包月,预付费 postpaid：按量计费，后付费
    PayType: str
    # 是否自动续费： 0：手动续费 1：自动续费 默认值：0
    AutoRenew: int
    # 实例网络连接信息。
    DBInstanceNetInfo: list[DBInstanceNetInfo]
    # 机器类型。
    Type: str
    # 用户的AppId。
    AppId: int
    # 实例的Uid。
    Uid: int
    # 项目ID。
    ProjectId: int
    # 实例绑定的标签信息。
    TagList: list[Tag]
    # 主实例信息，仅在实例为只读实例时返回。
    MasterDBInstanceId: str
    # 只读实例数量。
    ReadOnlyInstanceNum: int
    # 只读实例在只读组中的状态。
    StatusInReadonlyGroup: str
    # 下线时间。
    OfflineTime: str
    # 实例的节点信息。
    DBNodeSet: list[DBNode] | None
    # 实例是否支持TDE数据加密： 0：不支持 1：支持 默认值：0TDE数据加密可参考[数据透明加密概述](https://cloud.tencent
    # .com/document/product/409/71748)
    IsSupportTDE: int
    # 数据库引擎，支持： postgresql：云数据库PostgreSQL mssql_compatible：MSSQL兼容-云数据库PostgreSQL
    # 默认值：postgresql
    DBEngine: str
    # 数据库引擎的配置信息，配置格式如下： {"$key1":"$value1", "$key2":"$value2"} 各引擎支持如下：
    # mssql_compatible引擎： migrationMode：数据库模式，可选参数，可取值：single-db（单数据库模式），multi-db（多数
    # 据库模式）。默认为single-db。 defaultLocale：排序区域规则，可选参数，在初始化后不可修改，默认为en_US，可选值如 ...
    DBEngineConfig: str
    # 实例网络信息列表（此字段已废弃）
    NetworkAccessList: list[NetworkAccess] | None
    # 实例是否支持Ipv6： 0：否 1：是 默认值：0
    SupportIpv6: int
    # 实例已经弹性扩容的cpu核数
    ExpandedCpu: NotRequired[int]
    # 实例是否开启删除保护，取值如下： true：开启删除保护 false：关闭删除保护
    DeletionProtection: NotRequired[bool]
    # 实例存储类型，可选值：PHYSICAL_LOCAL_SSD：物理机本地ssd硬盘 CLOUD_PREMIUM：高性能云硬盘 CLOUD_SSD：ssd云硬盘
    # CLOUD_HSSD：增强型ssd云硬盘
    DBInstanceStorageType: NotRequired[str]


class TaskDetail(TypedDict):
    """``TaskDetail``: 任务的详情信息"""

    # 当前执行的子任务步骤名称。
    CurrentStep: NotRequired[str]
    # 当前任务所拥有的子步骤描述。
    AllSteps: NotRequired[str]
    # 任务的输入参数。
    Input: NotRequired[str]
    # 任务的输出参数。
    Output: NotRequired[str]
    # 指定实例配置完成变更后的切换时间，默认值：0 0: 此任务不需要切换 1：立即切换 2：指定时间切换
    # 3：维护时间窗口内切换。
    SwitchTag: NotRequired[int]
    # 指定的切换时间。
    SwitchTime: NotRequired[str]
    # 任务的提示信息。
    Message: NotRequired[str]


class TaskSet(TypedDict):
    """``TaskSet``: 任务列表信息"""

    # 任务ID。
    TaskId: int
    # 任务的类型。
    TaskType: str
    # 任务实例的实例ID。
    DBInstanceId: str
    # 任务的开始时间。
    StartTime: str
    # 任务的结束时间。
    EndTime: NotRequired[str]
    # 任务的运行状态，包括Running,Success,WaitSwitch,Fail,Pause。
    Status: str
    # 任务的执行进度，取值范围0-100。
    Progress: int
    # 任务的详情信息
    TaskDetail: NotRequired[TaskDetail]


class ReadOnlyGroup(TypedDict):
    """``ReadOnlyGroup``: 只读组信息"""

    # 只读组标识
    ReadOnlyGroupId: str
    # 只读组名字
    ReadOnlyGroupName: str
    # 项目id
    ProjectId: int
    # 主实例id
    MasterDBInstanceId: str
    # 最小保留实例数
    MinDelayEliminateReserve: int
    # 延迟空间大小阈值。单位MB。
    MaxReplayLatency: int
    # 延迟大小开关。0 - 关闭； 1 - 开启。
    ReplayLatencyEliminate: int
    # 延迟时间大小阈值，单位：秒。
    MaxReplayLag: float
    # 延迟时间开关。0 - 关闭； 1 - 开启。
    ReplayLagEliminate: int
    # 虚拟网络id
    VpcId: str
    # 子网id
    SubnetId: str
    # 地域id
    Region: str
    # 地区id
    Zone: str
    # 状态。枚举值：creating、ok、modifying、deleting、deleted
    Status: str
    # 实例详细信息
    ReadOnlyDBInstanceList: list[DBInstance]
    # 自动负载均衡开关
    Rebalance: int
    # 网络信息
    DBInstanceNetInfo: list[DBInstanceNetInfo]
    # 只读组网络信息列表（此字段已废弃）
    NetworkAccessList: list[NetworkAccess] | None


class DescribeRegionsResponse(TypedDict):
    """``DescribeRegions`` result (the router adds ``RequestId``)."""

    # 返回的结果数量。
    TotalCount: int
    # 地域信息集合。
    RegionSet: list[RegionInfo]


class DescribeZonesResponse(TypedDict):
    """``DescribeZones`` result (the router adds ``RequestId``)."""

    # 返回的结果数量。
    TotalCount: int
    # 可用区信息集合。
    ZoneSet: list[ZoneInfo]


class DescribeClassesResponse(TypedDict):
    """``DescribeClasses`` result (the router adds ``RequestId``)."""

    # 数据库规格列表
    ClassInfoSet: list[ClassInfo]


class DescribeDBVersionsResponse(TypedDict):
    """``DescribeDBVersions`` result (the router adds ``RequestId``)."""

    # 数据库版本号信息列表
    VersionSet: list[Version]


class DescribeProductConfigResponse(TypedDict):
    """``DescribeProductConfig`` result (the router adds ``RequestId``)."""

    # 售卖规格列表。
    SpecInfoList: list[SpecInfo]


class CreateInstancesResponse(TypedDict):
    """``CreateInstances`` result (the router adds ``RequestId``)."""

    # 订单号列表。每个实例对应一个订单号。
    DealNames: list[str]
    # 冻结流水号。
    BillId: str
    # 创建成功的实例ID集合，只在后付费情景下有返回值。
    DBInstanceIdSet: list[str]


class DescribeDBInstancesResponse(TypedDict):
    """``DescribeDBInstances`` result (the router adds ``RequestId``)."""

    # 查询到的实例数量。
    TotalCount: int
    # 实例详细信息集合。
    DBInstanceSet: list[DBInstance]


class DescribeDBInstanceAttributeResponse(TypedDict):
    """``DescribeDBInstanceAttribute`` result (the router adds ``RequestId``)."""

    # 实例详细信息。
    DBInstance: DBInstance


class ModifyDBInstanceNameResponse(TypedDict):
    """``ModifyDBInstanceName`` result (the router adds ``RequestId``)."""


class ModifyDBInstanceDeletionProtectionResponse(TypedDict):
    """``ModifyDBInstanceDeletionProtection`` result (the router adds ``RequestId``)."""


class RestartDBInstanceResponse(TypedDict):
    """``RestartDBInstance`` result (the router adds ``RequestId``)."""

    # 流程ID，FlowId等同于TaskId
    FlowId: int
    # 任务ID
    TaskId: NotRequired[int]


class IsolateDBInstancesResponse(TypedDict):
    """``IsolateDBInstances`` result (the router adds ``RequestId``)."""


class DisIsolateDBInstancesResponse(TypedDict):
    """``DisIsolateDBInstances`` result (the router adds ``RequestId``)."""


class DestroyDBInstanceResponse(TypedDict):
    """``DestroyDBInstance`` result (the router adds ``RequestId``)."""


class DescribeTasksResponse(TypedDict):
    """``DescribeTasks`` result (the router adds ``RequestId``)."""

    # 查询到的任务数量
    TotalCount: int
    # 任务信息列表
    TaskSet: list[TaskSet]


class CreateReadOnlyDBInstanceResponse(TypedDict):
    """``CreateReadOnlyDBInstance`` result (the router adds ``RequestId``)."""

    # 订单号列表。每个实例对应一个订单号
    DealNames: list[str]
    # 冻结流水号
    BillId: str
    # 创建成功的实例ID集合，只在后付费情景下有返回值
    DBInstanceIdSet: list[str]
    # 入参有BillingParameters值时，出参才有值，值为商品下单的参数。
    BillingParameters: NotRequired[str]


class CreateReadOnlyGroupResponse(TypedDict):
    """``CreateReadOnlyGroup`` result (the router adds ``RequestId``)."""

    # 只读组ID
    ReadOnlyGroupId: str
    # 流程ID，FlowId等同于TaskId
    FlowId: int
    # 任务ID
    TaskId: NotRequired[int]


class DescribeReadOnlyGroupsResponse(TypedDict):
    """``DescribeReadOnlyGroups`` result (the router adds ``RequestId``)."""

    # 只读组列表
    ReadOnlyGroupList: list[ReadOnlyGroup]


class AddDBInstanceToReadOnlyGroupResponse(TypedDict):
    """``AddDBInstanceToReadOnlyGroup`` result (the router adds ``RequestId``)."""

    # 流程ID，FlowId等同于TaskId
    FlowId: int
    # 任务ID
    TaskId: NotRequired[int]


class RemoveDBInstanceFromReadOnlyGroupResponse(TypedDict):
    """``RemoveDBInstanceFromReadOnlyGroup`` result (the router adds ``RequestId``)."""

    # 流程ID，FlowId等同于TaskId
    FlowId: int
    # 任务ID
    TaskId: NotRequired[int]


class DeleteReadOnlyGroupResponse(TypedDict):
    """``DeleteReadOnlyGroup`` result (the router adds ``RequestId``)."""

    # 流程ID
    FlowId: int


class ModifyReadOnlyGroupConfigResponse(TypedDict):
    """``ModifyReadOnlyGroupConfig`` result (the router adds ``RequestId``)."""


class ModifyDBInstanceReadOnlyGroupResponse(TypedDict):
    """``ModifyDBInstanceReadOnlyGroup`` result (the router adds ``RequestId``)."""

    # 流程ID，FlowId等同于TaskId
    FlowId: int
    # 任务ID
    TaskId: NotRequired[int]


class ModifyReadOnlyDBInstanceWeightResponse(TypedDict):
    """``ModifyReadOnlyDBInstanceWeight`` result (the router adds ``RequestId``)."""


class RebalanceReadOnlyGroupResponse(TypedDict):
    """``RebalanceReadOnlyGroup`` result (the router adds ``RequestId``)."""


class PgDeal(TypedDict):
    """``PgDeal``: 订单详情"""

    # 订单名
    DealName: str
    # 所属用户
    OwnerUin: str
    # 订单涉及多少个实例
    Count: int
    # 付费模式。1-预付费；0-后付费
    PayMode: int
    # 异步任务流程ID
    FlowId: int
    # 实例ID数组
    DBInstanceIdSet: list[str]


class InquiryPriceCreateDBInstancesResponse(TypedDict):
    """``InquiryPriceCreateDBInstances`` result (the router adds ``RequestId``)."""

    # 刊例价，单位：分
    OriginalPrice: int
    # 折后实际付款金额，单位：分
    Price: int
    # 币种。例如，CNY：人民币。
    Currency: str


class InquiryPriceRenewDBInstanceResponse(TypedDict):
    """``InquiryPriceRenewDBInstance`` result (the router adds ``RequestId``)."""

    # 刊例价，单位为分。如24650表示246.5元
    OriginalPrice: int
    # 折后实际付款金额，单位为分。如24650表示246.5元
    Price: int
    # 币种。例如，CNY：人民币。
    Currency: str


class RenewInstanceResponse(TypedDict):
    """``RenewInstance`` result (the router adds ``RequestId``)."""

    # 订单名
    DealName: str


class SetAutoRenewFlagResponse(TypedDict):
    """``SetAutoRenewFlag`` result (the router adds ``RequestId``)."""

    # 设置成功的实例个数
    Count: int


class DescribeOrdersResponse(TypedDict):
    """``DescribeOrders`` result (the router adds ``RequestId``)."""

    # 订单数量
    TotalCount: int
    # 订单数组
    Deals: list[PgDeal]


# --- Beyond the API table --------------------------------------------------------------------------
# What this service answers on top of the table's shapes, on purpose. Named apart from the table's
# objects, so the transcription above stays mechanical (test_schemas.py checks it, not these).


class ReadOnlyGroupMember(DBInstance):
    """A ``DBInstance`` as ``DescribeReadOnlyGroups`` lists it in ``ReadOnlyDBInstanceList``: with its
    weight in the group, which clients read there (``ModifyReadOnlyDBInstanceWeight`` sets it)."""

    # 0 for an instance evicted for lag, as Tencent shows it; 1-50 otherwise.
    Weight: int


class DescribeReadOnlyGroupsAnswer(DescribeReadOnlyGroupsResponse):
    """``DescribeReadOnlyGroups`` as answered here: with ``TotalCount``, like every other listing."""

    # 只读组数量 (the number of groups matched, whatever the page)
    TotalCount: int
