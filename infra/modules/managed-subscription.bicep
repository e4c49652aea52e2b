// One managed subscription: the custom role (../roles.bicep, with its delegation condition) and, once the code is
// deployed, the Event Grid subscription on the subscription's system topic. Only one
// Microsoft.Resources.Subscriptions system topic may exist per subscription, so an existing one (often in
// Default-EventGrid) is reused when named; otherwise one is created in a resource group of our own.
targetScope = 'subscription'

param principalId string
param location string
param deployEventSubscription bool
@description('Existing system topic ids, comma separated, of any managed subscription: the one in this subscription is reused.')
param existingSystemTopics string
param eventsResourceGroupName string
param systemTopicName string
param functionAppId string
param identityId string
param storageId string
param deadLetterContainer string

// Only one subscription system topic can exist here, so at most one listed id is this subscription's.
var ownTopics = [
  for id in split(existingSystemTopics, ','): startsWith(toLower(id), toLower('${subscription().id}/')) ? id : ''
]
var existingTopicId = join(ownTopics, '')
var reuseTopic = !empty(existingTopicId)
var topicResourceGroup = reuseTopic ? split(existingTopicId, '/')[4] : eventsResourceGroupName
var topicName = reuseTopic ? last(split(existingTopicId, '/')) : systemTopicName

module role '../roles.bicep' = {
  name: 'sc-autopilot-role'
  params: {
    principalId: principalId
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (deployEventSubscription && !reuseTopic) {
  name: eventsResourceGroupName
  location: location
}

module events 'events.bicep' = if (deployEventSubscription) {
  name: 'sc-autopilot-events'
  scope: resourceGroup(topicResourceGroup)
  params: {
    topicName: topicName
    reuseTopic: reuseTopic
    functionAppId: functionAppId
    identityId: identityId
    storageId: storageId
    deadLetterContainer: deadLetterContainer
  }
  dependsOn: [eventsGroup]
}

output roleDefinitionId string = role.outputs.roleDefinitionId
output systemTopic string = deployEventSubscription ? resourceId(subscription().subscriptionId, topicResourceGroup, 'Microsoft.EventGrid/systemTopics', topicName) : ''
