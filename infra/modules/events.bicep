// The Azure subscription's Event Grid system topic and the event subscription to on_resource_event, filtered
// to exactly the operations the code handles (shared/events.py HANDLED_OPERATIONS; checked by the test suite),
// with retries (Event Grid redelivery is how deferred work comes back) and a dead-letter container.
targetScope = 'resourceGroup'

param appName string
param functionAppId string
param identityId string
param storageId string
param deadLetterContainer string

var handledEventTypes = [
  'Microsoft.Resources.ResourceWriteSuccess'
  'Microsoft.Resources.ResourceDeleteSuccess'
]
var handledOperations = [
  'Microsoft.CognitiveServices/accounts/delete'
  'Microsoft.CognitiveServices/accounts/write'
  'Microsoft.ContainerService/managedClusters/delete'
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.Resources/tags/write'
  'Microsoft.Sql/servers/databases/delete'
  'Microsoft.Sql/servers/databases/write'
]

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'egst-${appName}-${uniqueString(subscription().id)}'
  location: 'global'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource subscriptionToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'sc-autopilot-resource-events'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_resource_event'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: handledEventTypes
      enableAdvancedFilteringOnArrays: true
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: handledOperations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: { type: 'UserAssigned', userAssignedIdentity: identityId }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storageId
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}
