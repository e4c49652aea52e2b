// sc-autopilot: Function App (Flex Consumption, Python 3.11) with a user-assigned identity, identity-based
// storage (no account keys), Application Insights, and the Event Grid subscription system topic feeding the
// event function. Rights on the managed subscriptions come from roles.bicep (a least-privilege custom role).
targetScope = 'resourceGroup'

@minLength(3)
@maxLength(20)
@description('Short name; resources are named from it.')
param appName string = 'scautopilot'

param location string = resourceGroup().location

@description('Subscriptions sc-autopilot manages (SC_SUBSCRIPTIONS). This template wires events from this one; deploy modules/events.bicep in each other one.')
param managedSubscriptions array = [subscription().subscriptionId]

@description('Create the Event Grid subscription. Leave false until the code is deployed (azd deploy), then re-run with true: Event Grid validates the function endpoint on creation.')
param deployEventSubscription bool = false

@allowed(['report', 'delete'])
param cleanupMode string = 'report'
param orphanGraceHours int = 24
param maxDeletionsPerRun int = 20
param validateBudget int = 50

@description('Clusters reconciled or swept at once per run; ARM calls are paced on its rate-limit headers.')
@minValue(1)
param concurrency int = 16
@description('NCRONTAB, six fields, seconds first.')
param sweepSchedule string = '0 0 * * * *'
param protectedNamespaces string = 'kube-system,kube-public,kube-node-lease,sc-system,gatekeeper-system'
param dryRun bool = false

var suffix = uniqueString(resourceGroup().id, appName)
var storageName = toLower(take('st${appName}${suffix}', 24))
var deploymentContainer = 'app-package'
var reportsContainer = 'sc-reports'
var deadLetterContainer = 'eventgrid-deadletter'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${appName}'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for name in [deploymentContainer, reportsContainer, deadLetterContainer]: {
    parent: blobs
    name: name
    properties: { publicAccess: 'None' }
  }
]

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${appName}-${suffix}'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${appName}-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${appName}-${suffix}'
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${appName}-${suffix}'
  location: location
  kind: 'functionapp,linux'
  tags: { 'azd-service-name': 'app' }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'python', version: '3.11' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'SC_SUBSCRIPTIONS', value: join(managedSubscriptions, ',') }
        { name: 'SC_PROTECTED_NAMESPACES', value: protectedNamespaces }
        { name: 'SC_DRY_RUN', value: string(dryRun) }
        { name: 'SC_SWEEP_SCHEDULE', value: sweepSchedule }
        { name: 'SC_CLEANUP_MODE', value: cleanupMode }
        { name: 'SC_ORPHAN_GRACE_HOURS', value: string(orphanGraceHours) }
        { name: 'SC_MAX_DELETIONS_PER_RUN', value: string(maxDeletionsPerRun) }
        { name: 'SC_VALIDATE_BUDGET', value: string(validateBudget) }
        { name: 'SC_CONCURRENCY', value: string(concurrency) }
        { name: 'SC_KEYVAULT_DNS_SUFFIXES', value: environment().suffixes.keyvaultDns }
        { name: 'SC_ARM_ENDPOINT', value: environment().resourceManager }
        { name: 'SC_ARM_AUDIENCE', value: environment().authentication.audiences[0] }
        { name: 'SC_LRO_POLL_SECONDS', value: '5' }
        { name: 'SC_HTTP_TIMEOUT_SECONDS', value: '60' }
      ]
    }
  }
  dependsOn: [storageRoles]
}

module events 'modules/events.bicep' = if (deployEventSubscription) {
  name: 'sc-autopilot-events'
  params: {
    appName: appName
    functionAppId: app.id
    identityId: identity.id
    storageId: storage.id
    deadLetterContainer: deadLetterContainer
  }
}

output functionAppName string = app.name
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output storageAccountName string = storage.name
