// The conversation box keeps its newest turn in view while an answer streams in.
watch('value', () => { element.scrollTop = element.scrollHeight; });
