// Key Vault Secrets User for the app on one vault (RBAC permission model): the secret values sc-sql-password tags
// may name come only from vaults the platform team lists (main.bicep keyVaults). Vaults with access policies
// instead need a `get` secret policy for the app's identity (docs/operations.md).
targetScope = 'resourceGroup'

param vaultName string
param principalId string

// Key Vault Secrets User: data actions secrets/getSecret/action and secrets/readMetadata/action
// (MicrosoftDocs role-based-access-control/built-in-roles; service-connector/concept-roles.md).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
