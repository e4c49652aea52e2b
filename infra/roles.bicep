// Least-privilege rights for sc-autopilot's identity on one managed subscription (FACTS.md section 8): two custom
// roles listing exactly the actions the app's calls need, not Contributor or Owner. The operator role holds
// everything but role-assignment writes; the delegation role holds only those, and its assignment carries the ABAC
// condition (the documented delegation pattern: the condition sits on an assignment of a role-assignment role).
// main.bicep deploys both into every managed subscription (modules/managed-subscription.bicep); by hand:
//   az deployment sub create -l <region> -f infra/roles.bicep -p principalId=<app identity principalId>
targetScope = 'subscription'

@description('Principal (object) id of the Function App\'s user-assigned managed identity.')
param principalId string

@description('Name of the custom roles; the subscription id is appended, since a custom role\'s display name must be unique in the tenant while its definition differs per subscription.')
param roleName string = 'sc-autopilot operator'

var delegationRoleName = '${roleName} role delegation'

// Role definitions Service Connector assigns to a connection's workload identity on a target, and so the only ones the
// app may assign or remove on its behalf (MicrosoftDocs azure-docs articles/service-connector/
// concept-microsoft-entra-roles.md; shared/core/catalogue.py lists them per target, docs/TARGETS.md the sources).
// SQL Database and Redis get no Azure role (a contained database user; a Redis data access policy).
var serviceConnectorRoles = [
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
  '2b629674-e913-4c01-ae53-ef4638d8f975' // Azure Event Hubs Data Sender
  '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Receiver
  '516239f1-63e1-4d78-a4de-a74fb236a071' // App Configuration Data Reader
  '5bd9cd88-fe45-4216-938b-f97437e15450' // DocumentDB Account Contributor
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39' // Azure Service Bus Data Sender
  '7e4f1700-ea5a-4f59-8f37-079cfe29dce3' // SignalR Service Owner
  '8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761' // SignalR/Web PubSub Contributor
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  'a001fd3d-188f-4b5d-821b-7da978bf7442' // Cognitive Services OpenAI Contributor
  'a638d3c7-ab3a-418d-83e6-5f17a39d4fde' // Azure Event Hubs Data Receiver
  'a97b65f3-24c7-4388-baec-2e87135dc908' // Cognitive Services User
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba' // Key Vault Certificate User
]
var assignableRoleList = join(serviceConnectorRoles, ', ')

// ABAC delegation condition (MicrosoftDocs role-based-access-control/delegate-role-assignments-examples.md,
// "Constrain roles and principal types"): roleAssignments/write and /delete only for those roles and only for
// service principals (managed identities), so the role cannot grant anyone Owner or User Access Administrator.
var delegationCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${assignableRoleList}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${assignableRoleList}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'}))'

var actions = [
  // discover tagged clusters and targets
  'Microsoft.Resources/subscriptions/resources/read'
  // AKS: read, credentials (server + CA only for Entra ID clusters), write (Service Connector enables OIDC)
  'Microsoft.ContainerService/managedClusters/read'
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action'
  // Service Connector and its cluster extension
  'Microsoft.ServiceLinker/linkers/read'
  'Microsoft.ServiceLinker/linkers/write'
  'Microsoft.ServiceLinker/linkers/delete'
  'Microsoft.ServiceLinker/linkers/validateLinker/action'
  'Microsoft.ServiceLinker/linkers/listConfigurations/action'
  // the long-running operations' status documents the SDK pollers read
  'Microsoft.ServiceLinker/locations/operationStatuses/read'
  'Microsoft.ContainerService/locations/operations/read'
  'Microsoft.ContainerService/locations/operationresults/read'
  'Microsoft.KubernetesConfiguration/extensions/operations/read'
  'Microsoft.KubernetesConfiguration/extensions/read'
  'Microsoft.KubernetesConfiguration/extensions/write'
  'Microsoft.KubernetesConfiguration/extensions/delete'
  // targets (shared/core/catalogue.py app_actions): read each tagged type, and the rights Service Connector uses with
  // the caller's token: list the keys it puts into a secret, and the IP firewall rules it adds for an AKS source
  'Microsoft.AppConfiguration/configurationStores/ListKeys/action'
  'Microsoft.AppConfiguration/configurationStores/read'
  'Microsoft.Cache/redis/listKeys/action'
  'Microsoft.Cache/redis/read'
  'Microsoft.Cache/redisEnterprise/databases/listKeys/action'
  'Microsoft.Cache/redisEnterprise/databases/read'
  'Microsoft.Cache/redisEnterprise/read'
  'Microsoft.CognitiveServices/accounts/listKeys/action'
  'Microsoft.CognitiveServices/accounts/read'
  'Microsoft.DBforMySQL/flexibleServers/databases/read'
  'Microsoft.DBforMySQL/flexibleServers/firewallRules/delete'
  'Microsoft.DBforMySQL/flexibleServers/firewallRules/read'
  'Microsoft.DBforMySQL/flexibleServers/firewallRules/write'
  'Microsoft.DBforMySQL/flexibleServers/read'
  'Microsoft.DBforPostgreSQL/flexibleServers/databases/read'
  'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/delete'
  'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/read'
  'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/write'
  'Microsoft.DBforPostgreSQL/flexibleServers/read'
  'Microsoft.DocumentDB/databaseAccounts/listConnectionStrings/action'
  'Microsoft.DocumentDB/databaseAccounts/listKeys/action'
  'Microsoft.DocumentDB/databaseAccounts/read'
  'Microsoft.EventHub/namespaces/authorizationRules/listKeys/action'
  'Microsoft.EventHub/namespaces/authorizationRules/read'
  'Microsoft.EventHub/namespaces/read'
  'Microsoft.Insights/components/read'
  'Microsoft.KeyVault/vaults/read'
  'Microsoft.ServiceBus/namespaces/authorizationRules/listKeys/action'
  'Microsoft.ServiceBus/namespaces/authorizationRules/read'
  'Microsoft.ServiceBus/namespaces/read'
  'Microsoft.SignalRService/SignalR/listkeys/action'
  'Microsoft.SignalRService/SignalR/read'
  'Microsoft.SignalRService/WebPubSub/listKeys/action'
  'Microsoft.SignalRService/WebPubSub/read'
  'Microsoft.Sql/servers/databases/read'
  'Microsoft.Sql/servers/firewallRules/delete'
  'Microsoft.Sql/servers/firewallRules/read'
  'Microsoft.Sql/servers/firewallRules/write'
  'Microsoft.Sql/servers/read'
  'Microsoft.Storage/storageAccounts/listKeys/action'
  'Microsoft.Storage/storageAccounts/read'
  // workload identity
  'Microsoft.ManagedIdentity/userAssignedIdentities/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete'
  // resource providers Service Connector needs for an AKS source
  'Microsoft.ServiceLinker/register/action'
  'Microsoft.KubernetesConfiguration/register/action'
  // Key Vault: the vault resource is read above (a target too). Secret values are NOT granted here: Key Vault
  // Secrets User per vault (modules/vault-access.bicep), so only vaults the platform team names are readable.
]

// Service Connector assigns the target's role to the workload identity with the caller's rights: write and delete
// only through the delegation role, whose assignment is constrained by delegationCondition.
var delegationActions = [
  'Microsoft.Authorization/roleAssignments/read'
  'Microsoft.Authorization/roleAssignments/write'
  'Microsoft.Authorization/roleAssignments/delete'
]

// Kubernetes data plane (Azure RBAC for Kubernetes authorization).
var dataActions = [
  'Microsoft.ContainerService/managedClusters/apps/deployments/read'
  'Microsoft.ContainerService/managedClusters/apps/deployments/write'
  'Microsoft.ContainerService/managedClusters/apps/statefulsets/read'
  'Microsoft.ContainerService/managedClusters/apps/statefulsets/write'
  'Microsoft.ContainerService/managedClusters/apps/daemonsets/read'
  'Microsoft.ContainerService/managedClusters/apps/daemonsets/write'
  'Microsoft.ContainerService/managedClusters/batch/jobs/read'
  'Microsoft.ContainerService/managedClusters/batch/jobs/write'
  'Microsoft.ContainerService/managedClusters/batch/cronjobs/read'
  'Microsoft.ContainerService/managedClusters/batch/cronjobs/write'
  'Microsoft.ContainerService/managedClusters/secrets/read'
  'Microsoft.ContainerService/managedClusters/secrets/write'
  'Microsoft.ContainerService/managedClusters/secrets/delete'
  'Microsoft.ContainerService/managedClusters/serviceaccounts/read'
  'Microsoft.ContainerService/managedClusters/serviceaccounts/write'
  'Microsoft.ContainerService/managedClusters/serviceaccounts/delete'
  // namespace annotations carry namespace owners' consent (docs/security.md)
  'Microsoft.ContainerService/managedClusters/namespaces/read'
]

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleName)
  properties: {
    roleName: '${roleName} (${subscription().subscriptionId})'
    description: 'What sc-autopilot needs to wire AKS workloads through Service Connector; nothing broader.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: dataActions
        notDataActions: []
      }
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, role.id)
  properties: {
    roleDefinitionId: role.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource delegationRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, delegationRoleName)
  properties: {
    roleName: '${delegationRoleName} (${subscription().subscriptionId})'
    description: 'Lets sc-autopilot have Service Connector assign a target\'s data role to a workload identity; the assignment\'s condition limits it to those roles.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: delegationActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource delegationAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, delegationRole.id)
  properties: {
    roleDefinitionId: delegationRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: delegationCondition
    conditionVersion: '2.0'
  }
}

output roleDefinitionId string = role.id
output delegationRoleDefinitionId string = delegationRole.id
