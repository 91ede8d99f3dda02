/** A planning conversation: decisions, names, numbers and dates among the usual chit-chat. */
export const CONVERSATION = [
  { role: "user", content: "Hi there!" },
  { role: "assistant", content: "Hello! How can I help you today?" },
  { role: "user", content: "We need to plan the Q3 launch of the Atlas mobile app. Maria Lopez is the product owner." },
  { role: "assistant", content: "Great. What is the target date for the launch?" },
  { role: "user", content: "The launch is scheduled for September 14, 2026. The marketing budget is $45,000." },
  { role: "assistant", content: "Noted. Do you have a preference for the backend database?" },
  { role: "user", content: "We decided to use PostgreSQL for the main database and Redis for caching." },
  { role: "assistant", content: "Sounds good." },
  { role: "user", content: "Thanks!" },
  { role: "user", content: "Also, I prefer weekly status reports on Mondays, and never schedule meetings on Fridays." },
  { role: "assistant", content: "Understood. I will send the status reports every Monday and avoid Fridays." },
  { role: "user", content: "Ok." },
  { role: "assistant", content: "Is there anything else about the launch team?" },
  {
    role: "user",
    content: "Dmitri Ivanov will handle the iOS build and Aisha Khan owns QA. Beta testing starts on August 3.",
  },
  { role: "assistant", content: "Got it." },
  { role: "user", content: "The weather has been nice lately, hasn't it?" },
  { role: "assistant", content: "It has been lovely." },
];
