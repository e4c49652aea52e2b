// Least-privilege rights for sc-autopilot's identity on one managed subscription (FACTS.md section 8):
// a custom role listing exactly the actions the app's calls need, not Contributor or Owner.
// Deploy once per managed subscription:
//   az deployment sub create -l <region> -f infra/roles.bicep -p principalId=<app identity principalId>
targetScope = 'subscription'

@description('Principal (object) id of the Function App\'s user-assigned managed identity.')
param principalId string

@description('Name of the custom role in this subscription.')
param roleName string = 'sc-autopilot operator'

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
  'Microsoft.KubernetesConfiguration/extensions/read'
  'Microsoft.KubernetesConfiguration/extensions/write'
  'Microsoft.KubernetesConfiguration/extensions/delete'
  // targets
  'Microsoft.Sql/servers/read'
  'Microsoft.Sql/servers/databases/read'
  'Microsoft.Sql/servers/firewallRules/read'
  'Microsoft.Sql/servers/firewallRules/write'
  'Microsoft.Sql/servers/firewallRules/delete'
  'Microsoft.CognitiveServices/accounts/read'
  'Microsoft.CognitiveServices/accounts/listKeys/action'
  'Microsoft.Authorization/roleAssignments/read'
  'Microsoft.Authorization/roleAssignments/write'
  'Microsoft.Authorization/roleAssignments/delete'
  // workload identity
  'Microsoft.ManagedIdentity/userAssignedIdentities/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete'
  // resource providers Service Connector needs for an AKS source
  'Microsoft.ServiceLinker/register/action'
  'Microsoft.KubernetesConfiguration/register/action'
  // Key Vault: read the vault resource (secrets are data actions below)
  'Microsoft.KeyVault/vaults/read'
]

// Kubernetes (Azure RBAC for Kubernetes authorization) and Key Vault data plane.
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
  'Microsoft.KeyVault/vaults/secrets/getSecret/action'
]

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleName)
  properties: {
    roleName: roleName
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

output roleDefinitionId string = role.id
