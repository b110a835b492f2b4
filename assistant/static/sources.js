// The sources panel: applies each step (steps.js): one answer's group of source cards at a time.
watch('step', () => applyStep(props.step));
