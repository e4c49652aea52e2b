// sc-autopilot: Function App (Flex Consumption, Python 3.11) with a user-assigned identity, identity-based
// storage (no account keys), Application Insights with an alert on Error verdicts, and, in every managed
// subscription, the custom role (roles.bicep) and the Event Grid subscription feeding the event function
// (modules/managed-subscription.bicep). Every operator setting is a parameter (main.parameters.json maps each to an
// `azd env set` variable; docs/operations.md lists them).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name (AZURE_ENV_NAME): 1-64 characters of [a-zA-Z0-9-()_.] (azure-dev environment.go EnvironmentNameRegexp). Every resource name below is derived from it.')
param appName string = 'scautopilot'

param location string = resourceGroup().location

@description('Subscriptions sc-autopilot manages (SC_SUBSCRIPTIONS), comma separated; empty = this subscription. A plain string, not an array: azd before 1.23.4 cannot pass an array from an environment variable (azure-dev PR 6694). A JSON array is tolerated.')
param managedSubscriptions string = ''

@description('Create the Event Grid subscriptions. Leave false until the code is deployed (azd deploy), then `azd env set DEPLOY_EVENT_SUBSCRIPTION true` and `azd provision`: Event Grid validates the function endpoint on creation.')
param deployEventSubscription bool = false

@description('Existing Microsoft.Resources.Subscriptions system topics to reuse (only one is allowed per subscription), as resource ids, comma separated; a managed subscription without one gets a new topic.')
param existingSystemTopics string = ''

@description('Key Vaults whose secrets sc-sql-password tags may name, as resource ids, comma separated: the app gets Key Vault Secrets User on each (RBAC vaults), never a subscription-wide getSecret.')
param keyVaults string = ''

@description('Existing Microsoft.KeyVault.vaults system topics to reuse (only one is allowed per vault), as `<vault id>=<topic id>` pairs, comma separated; a vault in keyVaults without one gets a new topic in its resource group.')
param existingVaultTopics string = ''

@description('Consumers rolled onto changed secret content (a rotation) per run; the rest are requeued.')
@minValue(0)
param maxRolloutsPerRun int = 50

@description('SECRET_NEAR_EXPIRY this many days before the exp of the Key Vault version a connection carries.')
param secretExpiryWarningDays int = 14

@allowed(['report', 'delete'])
param cleanupMode string = 'report'
param orphanGraceHours int = 24
@description('Wiring sc-autopilot added that someone removes twice within this many hours is no longer re-patched (WIRING_REVERTED).')
@minValue(0)
param revertWindowHours int = 24
param maxDeletionsPerRun int = 20
@description('Removal circuit breaker: removals (un-wirings, deletions) the whole app may make in any sliding hour, counted in its storage account; more are held (REMOVALS_HELD) until released with `sc-autopilot apply --max-removals N`.')
param maxRemovalsPerHour int = 20
param validateBudget int = 50
@description('Each connection is validated by Service Connector once in this many hourly sweeps')
@minValue(1)
param validateEveryHours int = 24

@description('Clusters reconciled or swept at once per run; ARM calls are paced on its rate-limit headers.')
@minValue(1)
param concurrency int = 16
@description('NCRONTAB, six fields, seconds first.')
param sweepSchedule string = '0 0 * * * *'
@description('NCRONTAB of wire_timer: workloads deployed after their tags are wired within one period')
param wireSchedule string = '0 */5 * * * *'
@description('suggest: GitOps-managed workloads are not patched, the wiring to commit is reported; patch: patched anyway')
@allowed(['suggest', 'patch'])
param gitopsWiring string = 'suggest'
param protectedNamespaces string = 'kube-system,kube-public,kube-node-lease,sc-system,gatekeeper-system'
param dryRun bool = false

@description('Replication of the app\'s storage account. Zone-redundant SKUs (ZRS, GZRS, RAGZRS) need a region with availability zones.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param storageSku string = 'Standard_LRS'

@description('Action group (resource id) the Error-verdict alert notifies; empty = the alert fires in the portal only.')
param alertActionGroupId string = ''

// -- names: derived once from appName ---------------------------------------------------------------------------
// Resource names accept fewer characters than azd env names: '_', '.', '(' and ')' become '-', all lower case,
// at most 20 characters, so every name below keeps the 13-character unique suffix whole (Azure naming rules:
// MicrosoftDocs azure-docs articles/azure-resource-manager/management/resource-name-rules.md).
var nameStem = take(toLower(replace(replace(replace(replace(appName, '_', '-'), '.', '-'), '(', '-'), ')', '-')), 20)
var compactStem = take(replace(nameStem, '-', ''), 9) // storage: 3-24 lower-case letters and digits, global
var suffix = uniqueString(subscription().id, resourceGroup().id, appName)
var identityName = 'id-${nameStem}-${suffix}'
var storageName = 'st${compactStem}${suffix}'
var workspaceName = 'log-${nameStem}-${suffix}'
var insightsName = 'appi-${nameStem}-${suffix}'
var planName = 'plan-${nameStem}-${suffix}'
// A Function App's host id is its name cut to 32 characters (resource-name-rules.md, Microsoft.Web note): at
// most 32, so the host id keeps the whole suffix.
var siteName = 'func-${take(nameStem, 13)}-${suffix}'
var alertName = 'alert-${nameStem}-error-verdicts-${suffix}'
var eventsResourceGroupName = 'rg-${nameStem}-events-${suffix}'
var systemTopicName = 'egst-${nameStem}-${suffix}'

var deploymentContainer = 'app-package'
var reportsContainer = 'sc-reports'
var stateContainer = 'sc-state' // the app-wide budget counters (shared/adapters/budgets.py)
var deadLetterContainer = 'eventgrid-deadletter'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// -- lists given as comma-separated strings (spaces dropped: ids hold none; a JSON array is tolerated). No lambdas
// (map/filter): checkov's Bicep parser cannot read them, and it must scan this file.
var subscriptionCsv = toLower(replace(replace(replace(replace(managedSubscriptions, ' ', ''), '[', ''), ']', ''), '"', ''))
var subscriptionIds = empty(subscriptionCsv) ? [subscription().subscriptionId] : split(subscriptionCsv, ',')
var topicCsv = replace(existingSystemTopics, ' ', '')
var vaultCsv = replace(keyVaults, ' ', '')
var vaultIds = empty(vaultCsv) ? [] : split(vaultCsv, ',')
var vaultTopicCsv = replace(existingVaultTopics, ' ', '')

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: storageSku }
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
  for name in [deploymentContainer, reportsContainer, stateContainer, deadLetterContainer]: {
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
  name: workspaceName
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
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

// Error verdicts: the sweep counts every verdict in the metric sc_autopilot.verdicts (shared/adapters/telemetry.py) with the
// verdict as a dimension; one or more Error verdicts in the last hour fire the alert.
resource errorVerdictAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: alertName
  location: location
  properties: {
    displayName: 'sc-autopilot: Error verdicts'
    description: 'A sweep found connections it could not verify or repair (verdict Error). Read the run report in the sc-reports container (docs/operations.md, "Reports").'
    severity: 2
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "sc_autopilot.verdicts" and tostring(customDimensions.verdict) == "Error" | summarize errors = sum(valueSum)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'errors'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(alertActionGroupId) ? [] : [alertActionGroupId] }
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: siteName
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
        // Identity-based storage with service URIs from environment(), so sovereign clouds work too (the host and
        // shared/config.py StorageSettings read them; __accountName would mean the public cloud only).
        { name: 'AzureWebJobsStorage__blobServiceUri', value: 'https://${storageName}.blob.${environment().suffixes.storage}' }
        { name: 'AzureWebJobsStorage__queueServiceUri', value: 'https://${storageName}.queue.${environment().suffixes.storage}' }
        { name: 'AzureWebJobsStorage__tableServiceUri', value: 'https://${storageName}.table.${environment().suffixes.storage}' }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'SC_SUBSCRIPTIONS', value: join(subscriptionIds, ',') }
        { name: 'SC_PROTECTED_NAMESPACES', value: protectedNamespaces }
        { name: 'SC_DRY_RUN', value: string(dryRun) }
        { name: 'SC_SWEEP_SCHEDULE', value: sweepSchedule }
        { name: 'SC_WIRE_SCHEDULE', value: wireSchedule }
        { name: 'SC_GITOPS_WIRING', value: gitopsWiring }
        { name: 'SC_CLEANUP_MODE', value: cleanupMode }
        { name: 'SC_ORPHAN_GRACE_HOURS', value: string(orphanGraceHours) }
        { name: 'SC_REVERT_WINDOW_HOURS', value: string(revertWindowHours) }
        { name: 'SC_MAX_DELETIONS_PER_RUN', value: string(maxDeletionsPerRun) }
        { name: 'SC_MAX_REMOVALS_PER_HOUR', value: string(maxRemovalsPerHour) }
        { name: 'SC_SECRET_EXPIRY_WARNING_DAYS', value: string(secretExpiryWarningDays) }
        { name: 'SC_MAX_ROLLOUTS_PER_RUN', value: string(maxRolloutsPerRun) }
        { name: 'SC_VALIDATE_BUDGET', value: string(validateBudget) }
        { name: 'SC_VALIDATE_EVERY_HOURS', value: string(validateEveryHours) }
        { name: 'SC_CONCURRENCY', value: string(concurrency) }
        // '.vault.azure.net' in the public cloud, with a leading dot: shared/config.py strips it.
        { name: 'SC_KEYVAULT_DNS_SUFFIXES', value: environment().suffixes.keyvaultDns }
        { name: 'SC_ARM_ENDPOINT', value: environment().resourceManager }
        { name: 'SC_ARM_AUDIENCE', value: environment().authentication.audiences[0] }
        { name: 'SC_LRO_POLL_SECONDS', value: '5' }
        { name: 'SC_HTTP_TIMEOUT_SECONDS', value: '60' }
        { name: 'SC_RETRY_BASE_SECONDS', value: '1' }
      ]
    }
  }
  dependsOn: [storageRoles, insightsRole, containers] // the deployment container must exist for the package
}

// Per managed subscription: the custom role with its delegation condition, and (once the code is deployed) the
// Event Grid subscription on that subscription's system topic, reusing an existing topic when one is named.
module managed 'modules/managed-subscription.bicep' = [
  for sub in subscriptionIds: {
    name: 'sc-autopilot-${sub}'
    scope: subscription(sub)
    params: {
      principalId: identity.properties.principalId
      location: location
      deployEventSubscription: deployEventSubscription
      existingSystemTopics: topicCsv
      eventsResourceGroupName: eventsResourceGroupName
      systemTopicName: systemTopicName
      functionAppId: app.id
      identityId: identity.id
      storageId: storage.id
      deadLetterContainer: deadLetterContainer
    }
  }
]

// Key Vault Secrets User on each named vault (the role Service Connector itself assigns for Key Vault,
// concept-roles.md), in whatever subscription and resource group the vault lives.
module vaultAccess 'modules/vault-access.bicep' = [
  for (vaultId, i) in vaultIds: {
    name: 'sc-autopilot-vault-${i}-${suffix}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: last(split(vaultId, '/'))
      principalId: identity.properties.principalId
    }
  }
]

// Each named vault's secret events (new version, near expiry, expired) to on_resource_event, once the code is
// deployed: a rotation reaches the connections that read the secret without waiting for the sweep.
module vaultEvents 'modules/vault-events.bicep' = [
  for (vaultId, i) in vaultIds: {
    name: 'sc-autopilot-vault-events-${i}-${suffix}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      deployEventSubscription: deployEventSubscription
      vaultId: vaultId
      existingVaultTopics: vaultTopicCsv
      newTopicName: 'egst-${take(last(split(vaultId, '/')), 24)}-${suffix}'
      functionAppId: app.id
    }
  }
]

output functionAppName string = app.name
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output storageAccountName string = storage.name
output applicationInsightsName string = insights.name
output reportsContainer string = reportsContainer
output managedSubscriptionIds array = subscriptionIds
